"""One module per API family: sonic, producer, nuro, riffusion, lyrics, account."""

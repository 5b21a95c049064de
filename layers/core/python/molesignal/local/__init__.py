"""The local shape of MoleSignal (``make dev`` and the tests): an embedded AWS emulator, a
gateway that behaves like API Gateway, SQS pollers and a scheduler. Not used in Lambda."""

"""The local stack: service emulators and tooling that run the project without AWS or the internet."""

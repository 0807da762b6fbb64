"""Pure business rules: models, invoice mapping, matching, payment status. No I/O, no AWS, no HTTP."""

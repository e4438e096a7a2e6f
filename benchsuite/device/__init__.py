"""What runs next to the hardware: the worker (`python -m benchsuite.device.worker`), the preparation of a
case (build, prepare, verify against torch eager), the assembly of its records, and the device ceilings."""

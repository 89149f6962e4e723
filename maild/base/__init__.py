"""The foundation every part stands on: errors, settings, the clock, shipped resources."""

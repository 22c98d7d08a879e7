"""What every training loop shares: devices and strategies (`distribution`),
the original's optimizer and schedules (`optimization`), progress lines
(`progress`)."""

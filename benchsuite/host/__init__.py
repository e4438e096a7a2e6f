"""What runs on the user's machine: a run's plan and loop (execute), where workers go (placement), how a
worker is started and read (supervisor), the progress line, and the `tune` step."""

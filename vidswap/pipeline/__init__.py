"""The streaming face-swap pipeline: YAML spec, threaded stages, runner and jobs."""

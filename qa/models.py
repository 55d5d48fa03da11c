"""QA: rubrics, sampling, reviews, calibration and coaching (built on cases.Reply)."""

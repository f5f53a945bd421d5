"""From the create form to a job: the form, its details, prefill, dream settings, measured speeds."""

"""Client configurations: which Loket payroll administration goes to which AFAS target, and how."""

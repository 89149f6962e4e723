"""What people read in mail: view dataclasses of loaded data and the template renderer."""

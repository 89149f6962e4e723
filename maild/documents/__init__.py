"""What people read outside a ticket's mail: recording form, register, monthly report, digest, charts."""

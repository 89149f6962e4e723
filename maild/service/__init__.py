"""The ticket service: opening tickets, the actions, the mails they cause, admin read models."""

"""Mail in and out: IMAP, Maildir and SMTP, and the mailbox protocol."""

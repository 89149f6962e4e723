"""The SOP's decisions: workflow, vocabulary, rules, commands, threading, proof, calendar, SLA. Pure."""

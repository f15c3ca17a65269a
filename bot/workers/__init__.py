"""Background loops: the paging worker and its delivery, follow-ups on open incidents, the
Nginx quiet sweeper, and the syslog listener. The composition root picks which ones a
process runs."""

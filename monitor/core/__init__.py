"""The core: what every other layer shares and none of them owns. The model (a monitor, a
check's result, a kind, the alert rules), field validation, maintenance windows, times and
durations, secrets masking, and the errors: no threads, no network, no database, and
nothing imported from the rest of the program."""

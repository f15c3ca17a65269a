"""What keeps an alert quiet or decides where it goes: label matchers, silences (and their
store), inhibition, time intervals and the route tree."""

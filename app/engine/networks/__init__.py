"""The pretrained networks the engines share, loaded from the paths they are given (a
network names no weight file: each engine's home pins the files it loads), and the one cache
that keeps them warm (:mod:`.cache`)."""

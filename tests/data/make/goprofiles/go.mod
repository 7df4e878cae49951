module profilelab/tests/data/make/goprofiles

go 1.19

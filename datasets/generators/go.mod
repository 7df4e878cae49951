module profilelab/datasets/generators

go 1.19

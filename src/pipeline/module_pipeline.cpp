// module pipeline

// module sampling

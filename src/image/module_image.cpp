// module image

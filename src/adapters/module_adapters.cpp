// module adapters

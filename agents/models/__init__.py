"""What a model is: profiles (roles → model files and backends), the embedded default, GGUF reading."""

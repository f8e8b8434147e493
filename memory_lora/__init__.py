"""memory_lora: a person's long-term memory written into a per-user LoRA adapter on a frozen base LLM."""

__version__ = "0.1.0"

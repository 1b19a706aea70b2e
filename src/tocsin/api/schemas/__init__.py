"""Request and response models. Every request model forbids unknown fields."""

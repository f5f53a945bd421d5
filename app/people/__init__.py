"""What belongs to people: the style library, the trash, key links, saved versions, titles."""

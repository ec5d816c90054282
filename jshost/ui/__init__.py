"""Terminal output: plain progress lines, the final summary, and script excerpts."""

"""The parts of the fal simulator; `adapters.fal.simulator` puts them together."""

"""The Hydra config tree (the only place defaults live); a package so that Hydra finds it as pkg://conf under any install."""

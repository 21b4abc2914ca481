"""Files in and out of a run: files.py (data, init and batch files, weights, JSON results
written atomically), torch_bridge.py (minisgd's MLP to and from a PyTorch nn.Sequential)."""

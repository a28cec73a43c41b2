"""Using a trained model: voice activity, prediction over time, pictures, the service, export."""

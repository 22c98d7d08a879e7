"""SavedModel export: the model/exporter seam (`exportable`), the exporter
(`export`) and the pre-trained discriminator's export (`discriminator`)."""

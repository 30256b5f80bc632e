# Values built from variables only, so tests can evaluate this file with `terraform console`.
locals {
  # SECRETWATCH_TUNING only when a tuning file is bundled: an empty value would still be a setting to read.
  tuning_settings = var.tuning == null ? {} : { SECRETWATCH_TUNING = var.tuning }
}

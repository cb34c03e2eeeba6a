"""GDPR tooling: recognising personal values so that no diagnostic ever shows one (`mask`), finding
personal-data columns (`detect`, `scan`), keyed pseudonyms (`pseudonymize`), erasure (`erase`),
retention (`retain`), their audit log (`audit`) and the faithful rewriting of files (`files`)."""

# The README's entry points. `make run` serves the sample knowledge base; `make test` runs every
# test (what CI runs). Both install the model first when it is missing.

CARGO ?= cargo

.PHONY: run test model lint check eval-faq eval-intents bench

## Serve the chat on http://127.0.0.1:8080 with the sample knowledge base.
run: model
	$(CARGO) run --release -- serve

## Run every test (unit, integration, CLI), then the ones that reach the store again on a
## throw-away PostgreSQL (installed from Debian's packages when missing).
test: model
	scripts/install-chromium >/dev/null
	$(CARGO) test --workspace --all-targets
	CARGO=$(CARGO) scripts/test-on-postgres
	@cat target/screenshots/widget-size.txt target/screenshots/multinode-latency.txt

## Install the sentence encoder into models/ (verified against models/MODEL.md).
model:
	@models/fetch

## Formatting and lints, as required before a commit.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Validate the sample knowledge base.
check:
	$(CARGO) run --release -- check knowledge

## FAQ retrieval figures on StackFAQ (data in ../shared/data).
eval-faq: model
	$(CARGO) run --release -- eval faq ../shared/data/faq/stackfaq

## Intent and out-of-scope figures on CLINC150, BANKING77 and BANKING77-OOS.
eval-intents: model
	for d in clinc150 banking77 banking77-oos; do \
	  $(CARGO) run --release -- eval intents ../shared/data/intents/$$d || exit 1; done

## Classification latency and throughput.
bench: model
	$(CARGO) run --release -- bench model

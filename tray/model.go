package tray

import (
	"fmt"
	"time"
)

// item names a menu entry; the menu has a fixed shape, in this order.
type item int

const (
	itemTitle item = iota
	itemStrategy
	itemUsage
	itemListen
	itemFollow
	itemLocal
	itemRemote
	itemPrivate
	itemMock
	itemLaunch
	itemRefresh
	itemDashboard
	itemConnect
	itemConfig
	itemLog
	itemQuit
	numItems
)

// separatorBefore marks the items that start a new group.
var separatorBefore = [numItems]bool{itemFollow: true, itemMock: true, itemRefresh: true, itemQuit: true}

// row is the state of one menu entry.
type row struct {
	Label     string
	Tooltip   string
	Enabled   bool
	Checkable bool // created as a checkbox
	Checked   bool
}

// model is everything the tray shows, derived from State alone.
type model struct {
	Title string // title line, tray title and tooltip
	Icon  string // "local", "remote", "mock" or "error"
	Rows  [numItems]row
}

// menuModel is the whole tray for s: a pure function, table-tested.
// now dates the strategy; launch is the launch-at-login state on disk.
func menuModel(s State, now time.Time, launch bool) model {
	title := summary(s)
	m := model{Title: title, Icon: iconState(s)}
	m.Rows[itemTitle] = row{Label: title}
	m.Rows[itemStrategy] = row{Label: strategyLine(s, now)}
	m.Rows[itemUsage] = row{Label: usageLine(s.Today)}
	m.Rows[itemListen] = row{Label: s.Listen, Tooltip: menuListenTip, Enabled: s.Listen != ""}
	m.Rows[itemFollow] = check(menuFollow, menuFollowTip, s.Override != OverrideLocal && s.Override != OverrideRemote)
	m.Rows[itemLocal] = check(menuLocal, menuLocalTip, s.Override == OverrideLocal)
	m.Rows[itemRemote] = check(menuRemote, menuRemoteTip, s.Override == OverrideRemote)
	m.Rows[itemPrivate] = check(menuPrivate, menuPrivateTip, s.Private)
	m.Rows[itemMock] = check(menuMock, menuMockTip, s.Mock)
	m.Rows[itemLaunch] = check(menuLaunch, menuLaunchTip, launch)
	m.Rows[itemRefresh] = row{Label: menuRefresh, Tooltip: menuRefreshTip, Enabled: s.StrategySource != "config" || s.StrategyError != ""}
	m.Rows[itemDashboard] = row{Label: menuDashboard, Tooltip: menuDashboardTip, Enabled: s.Listen != ""}
	m.Rows[itemConnect] = row{Label: menuConnect, Tooltip: menuConnectTip, Enabled: true}
	m.Rows[itemConfig] = row{Label: menuConfig, Tooltip: menuConfigTip, Enabled: s.ConfigPath != ""}
	m.Rows[itemLog] = row{Label: menuLog, Tooltip: menuLogTip, Enabled: true}
	m.Rows[itemQuit] = row{Label: menuQuit, Tooltip: menuQuitTip, Enabled: true}
	return m
}

func check(label, tip string, on bool) row {
	return row{Label: label, Tooltip: tip, Enabled: true, Checkable: true, Checked: on}
}

// summary is the title line: "Local · qwen3", "Remote · gemini-3-flash",
// "Mock · qwen3".
func summary(s State) string {
	side, mdl := s.route()
	if mdl == "" {
		mdl = noModel
	}
	switch {
	case s.Mock:
		if s.Route.Side == "" {
			mdl = cannedText
			if s.MockReason != "" {
				mdl = s.MockReason
			}
		}
		return sideMock + sep + mdl
	case s.Private:
		return sidePrivate + sep + mdl
	case side == OverrideLocal:
		return sideLocal + sep + mdl
	default:
		return sideRemote + sep + mdl
	}
}

// iconState picks the icon: mock, error (strategy source failing or the
// chosen side down), else the live side.
func iconState(s State) string {
	switch side, _ := s.route(); {
	case s.Mock:
		return "mock"
	case s.strategyFailing() || s.chosenSideDown():
		return "error"
	case side == OverrideLocal || s.Private:
		return "local"
	default:
		return "remote"
	}
}

// strategyLine names the strategy's source and age, or its error.
func strategyLine(s State, now time.Time) string {
	if s.StrategyError != "" {
		return fmt.Sprintf(strategyFailing, truncate(s.StrategyError, 60))
	}
	switch s.StrategySource {
	case "remote":
		return fmt.Sprintf(strategyRemote, age(s.StrategyFetchedAt, now))
	case "cache":
		return fmt.Sprintf(strategyCache, age(s.StrategyFetchedAt, now))
	default:
		return strategyConfig
	}
}

func age(t, now time.Time) string {
	if t.IsZero() {
		return strategyNeverSeen
	}
	switch d := now.Sub(t); {
	case d < time.Minute:
		return ageJustNow
	case d < time.Hour:
		return fmt.Sprintf(ageMinutes, int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf(ageHours, int(d/time.Hour))
	default:
		return fmt.Sprintf(ageDays, int(d/(24*time.Hour)))
	}
}

// truncate shortens s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

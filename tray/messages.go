package tray

// Every string the tray shows a user, in one place (menu, tooltips,
// notifications), so wording stays consistent and can be translated later.
const (
	appName = "LocalRouter"

	sideLocal  = "Local"
	sideRemote = "Remote"
	sideMock   = "Mock"
	// sidePrivate leads the title while Local only is on.
	sidePrivate = "Local only"
	sep         = " · "
	noModel     = "no model"
	cannedText  = "canned answers"

	strategyRemote    = "Strategy: remote, %s"
	strategyCache     = "Strategy: cached copy, %s"
	strategyConfig    = "Strategy: config defaults"
	strategyFailing   = "Strategy error: %s"
	strategyNeverSeen = "never fetched"
	// The usage line: requests, tokens, local share, estimated savings.
	usageToday    = "Today: %s · %s tokens · %d%% local · ≈ $%.2f saved"
	usageRequests = "%d requests"
	usageRequest  = "1 request"
	usageNone     = "Today: no requests yet"
	usageOff      = "Usage: not recorded (usage.enabled is off)"
	usageFailing  = "Usage: not recorded: %s"
	usageNotice   = "Usage: %s"
	ageJustNow    = "just now"
	ageMinutes    = "%d min ago"
	ageHours      = "%d h ago"
	ageDays       = "%d d ago"

	menuListenTip  = "Click to copy the API address"
	menuFollow     = "Follow remote strategy"
	menuFollowTip  = "Let the strategy (or the config default) choose the side"
	menuLocal      = "Force local"
	menuLocalTip   = "Send every request to the local model"
	menuRemote     = "Force remote"
	menuRemoteTip  = "Send every request to the remote model"
	menuPrivate    = "Local only"
	menuPrivateTip = "Keep every request on this machine: no remote model, no fallback"
	menuMock       = "Mock mode"
	menuMockTip    = "Answer every request with canned responses"
	menuLaunch     = "Launch at login"
	menuLaunchTip  = "Start LocalRouter when you log in"
	menuRefresh    = "Refresh strategy now"
	menuRefreshTip = "Fetch the remote strategy at once"
	menuConfig     = "Open config"
	menuConfigTip  = "Open the config file in use"
	menuLog        = "Open log"
	menuLogTip     = "Open the log file"
	menuQuit       = "Quit"
	menuQuitTip    = "Stop LocalRouter (running answers get 5 s to finish)"

	noteRouteTitle      = "Route: %s"
	noteRouteStrategy   = "The remote strategy changed the route."
	noteRouteOverride   = "Routing: %s."
	noteRouteMockOn     = "Mock mode is on: answers are canned."
	noteRouteMockOff    = "Mock mode is off: requests reach real models again."
	noteRoutePrivateOn  = "Local only is on: no request leaves this machine."
	noteRoutePrivateOff = "Local only is off: requests may go remote again."
	noteRouteLocalDown  = "The local side stopped answering."
	noteRouteLocalUp    = "The local side answers again."
	// A local model server that answers with errors (its runner crashed,
	// the model failed to load) is passed over for a while.
	noteLocalDegraded    = "Local model failing"
	noteLocalDegradedTxt = "The local model server answered with an error: requests go remote until it is tried again."
	noteRouteLocalBack   = "The local side is tried again."
	noteStrategyFailing  = "Strategy source failing"
	noteStrategyKeeps    = "%s\nRouting keeps the last good strategy."
	noteStrategyBack     = "Strategy source recovered"
	noteStrategyBackTxt  = "The remote strategy answers again."
	noteFallback         = "Fallback to %s"
	noteFallbackText     = "%s failed: %s"
	noteReloadRejected   = "Config change rejected"
	noteReloadKeeps      = "%s\nThe running config stays in force."
)

// Open dashboard opens /ui in the browser (DESIGN §12).
const (
	menuDashboard    = "Open dashboard"
	menuDashboardTip = "Open the request log, usage and health page in the browser"
)

// Connect a client… writes a coding tool's settings (DESIGN §13).
const (
	menuConnect       = "Connect a client…"
	menuConnectTip    = "Point a coding tool at LocalRouter: writes its settings, keeping a backup"
	menuConnectToTip  = "Write %s's settings so that it talks to LocalRouter"
	noteConnected     = "%s connected"
	noteConnectFailed = "Could not connect %s"
)

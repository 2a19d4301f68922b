package hooktools

import (
	"errors"
	"fmt"
	"strings"
)

func init() {
	register("status-set", "<maintenance | blocked | waiting | active> [message]", "set status information", func(Context) command { return &statusSet{} })
	register("status-get", "[--include-data] [--application]", "Print status information.", func(Context) command { return &statusGet{} })
	register("application-version-set", "<new-version>", "Specify which version of the application is deployed.", func(Context) command { return &appVersionSet{} })
	register("juju-log", "<message>", "write a message to the juju log", func(Context) command { return &jujuLog{} })
}

var validStatus = []string{"maintenance", "blocked", "waiting", "active"}

// statusSet is status-set (contract §2.3).
type statusSet struct {
	app     bool
	status  string
	message string
}

func (c *statusSet) setFlags(fs *flagSet) {
	fs.boolVar(&c.app, "application", "set this status for the application to which the unit belongs if the unit is the leader")
}

func (c *statusSet) init(args []string) error {
	if len(args) < 1 {
		return errors.New("invalid args, require <status> [message]")
	}
	valid := false
	for _, s := range validStatus {
		valid = valid || s == args[0]
	}
	if !valid {
		return fmt.Errorf("invalid status %q, expected one of [%s]", args[0], strings.Join(validStatus, " "))
	}
	c.status = args[0]
	if len(args) > 1 {
		c.message = args[1]
		return checkEmpty(args[2:])
	}
	return nil
}

func (c *statusSet) run(e *env) error {
	return e.ctx.SetStatus(c.app, c.status, c.message)
}

// statusGet is status-get: smart without --include-data prints the word,
// otherwise a map (with "units" inside "application-status").
type statusGet struct {
	out         output
	includeData bool
	app         bool
}

func (c *statusGet) setFlags(fs *flagSet) {
	c.out.addFlags(fs, formatSmart, formatSmart, formatYAML, formatJSON)
	fs.boolVar(&c.includeData, "include-data", "print all status data")
	fs.boolVar(&c.app, "application", "print status for all units of this application if this unit is the leader")
}

func (c *statusGet) init(args []string) error { return checkEmpty(args) }

func statusDetails(s StatusInfo, includeData bool) map[string]any {
	d := map[string]any{"status": s.Status}
	if includeData {
		data := map[string]any{}
		for k, v := range s.Data {
			data[k] = v
		}
		d["status-data"] = data
		d["message"] = s.Message
	}
	return d
}

func (c *statusGet) run(e *env) error {
	if c.app {
		app, units, err := e.ctx.ApplicationStatus()
		if err != nil {
			return annotate("finding application status", err)
		}
		if !c.includeData && c.out.format == formatSmart {
			return c.out.write(e, app.Status)
		}
		d := statusDetails(app, c.includeData)
		us := map[string]any{}
		for name, u := range units {
			us[name] = statusDetails(u, c.includeData)
		}
		d["units"] = us
		return c.out.write(e, map[string]any{"application-status": d})
	}
	s, err := e.ctx.UnitStatus()
	if err != nil {
		return annotate("finding workload status", err)
	}
	if !c.includeData && c.out.format == formatSmart {
		return c.out.write(e, s.Status)
	}
	return c.out.write(e, statusDetails(s, c.includeData))
}

// appVersionSet is application-version-set.
type appVersionSet struct{ version string }

func (c *appVersionSet) setFlags(*flagSet) {}

func (c *appVersionSet) init(args []string) error {
	if len(args) < 1 {
		return errors.New("no version specified")
	}
	c.version = args[0]
	return checkEmpty(args[1:])
}

func (c *appVersionSet) run(e *env) error { return e.ctx.SetApplicationVersion(c.version) }

// jujuLog is juju-log: the message is the arguments joined by spaces, the
// level case-insensitive (an invalid one logs a warning and uses INFO), and
// relation hooks prefix "<endpoint>:<id>: ".
type jujuLog struct {
	debug   bool
	level   string
	format  deprecatedFormat
	message string
}

func (c *jujuLog) setFlags(fs *flagSet) {
	fs.boolVar(&c.debug, "debug", "log at debug level")
	fs.stringVar(&c.level, "l", "INFO", "Send log message at the given level")
	fs.stringVar(&c.level, "log-level", "INFO", "")
	c.format.setFlags(fs)
}

func (c *jujuLog) init(args []string) error {
	if len(args) == 0 {
		return errors.New("no message specified")
	}
	c.message = strings.Join(args, " ")
	return nil
}

// logLevels maps loggo's level names to the normalised ones.
var logLevels = map[string]string{
	"TRACE": "TRACE", "DEBUG": "DEBUG", "INFO": "INFO", "WARN": "WARNING",
	"WARNING": "WARNING", "ERROR": "ERROR", "CRITICAL": "CRITICAL",
}

func (c *jujuLog) run(e *env) error {
	c.format.warn(e, "juju-log")
	level := "INFO"
	if c.debug {
		level = "DEBUG"
	} else if c.level != "" {
		l, ok := logLevels[strings.ToUpper(c.level)]
		if !ok {
			if err := e.ctx.Log("WARNING", fmt.Sprintf("Specified log level of %q is not valid", c.level)); err != nil {
				return err
			}
			l = "INFO"
		}
		level = l
	}
	prefix := ""
	if id := e.ctx.HookRelationID(); id >= 0 {
		if info, ok := e.ctx.Relation(id); ok {
			prefix = info.Key() + ": "
		}
	}
	return e.ctx.Log(level, prefix+c.message)
}

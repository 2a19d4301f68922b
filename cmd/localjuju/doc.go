// Command localjuju runs charms the way the Juju unit agent does, on one
// machine, with no controller (see README). The one binary has three roles,
// chosen by the name it is run as:
//
//   - a hook tool (relation-get, config-get, ...) when run through a link of
//     that name in a unit's tools directory;
//   - juju-exec / juju-run;
//   - otherwise the localjuju CLI, whose hidden `controller` verb is the
//     model's controller process.
package main

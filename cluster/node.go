package cluster

import "github.com/herdhq/herd/ipc"

// cmdNode marks the messages of Node's cluster protocol.
const cmdNode = "NODE_CLUSTER"

// nodeMsg handles a message of Node's cluster protocol. Not spoken yet:
// the message is dropped.
func (p *Primary) nodeMsg(m *member, im *ipc.Message) { im.CloseHandle() }

package cluster

import (
	"encoding/json"
	"testing"
)

func TestParseNodeAnswer(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in           string
		ack          int64
		accepted, ok bool
	}{
		{`{"cmd":"NODE_CLUSTER","ack":2,"accepted":true,"seq":3}`, 2, true, true},
		{`{"cmd":"NODE_CLUSTER","ack":17,"accepted":false,"seq":40}`, 17, false, true},
		{`{"cmd":"NODE_CLUSTER","ack":2,"accepted":true,"seq":3,"x":1}`, 0, false, false},
		{`{"cmd":"NODE_CLUSTER","ack":-1,"seq":3}`, 0, false, false},
		{`{"cmd":"NODE_CLUSTER","ack":2, "accepted":true,"seq":3}`, 0, false, false},
		{`{"cmd":"NODE_CLUSTER","act":"close","key":"k","seq":5}`, 0, false, false},
	} {
		ack, accepted, ok := parseNodeAnswer([]byte(c.in))
		if ack != c.ack || accepted != c.accepted || ok != c.ok {
			t.Errorf("%s: %d %t %t", c.in, ack, accepted, ok)
		}
	}
}

// The handle keys and addresses of the queryServer variants Node sends
// (node-protocol.md §6.4).
func TestNodeQueryKeys(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, key, network, address string }{
		{`{"act":"queryServer","index":0,"data":null,"address":null,"port":3111,"addressType":4,"backlog":0,"seq":1}`,
			"null:3111:4:undefined:0", "tcp", ":3111"},
		{`{"act":"queryServer","index":1,"address":"127.0.0.1","port":3301,"addressType":4,"flags":0,"backlog":77,"seq":2}`,
			"127.0.0.1:3301:4:undefined:1", "tcp", "127.0.0.1:3301"},
		{`{"act":"queryServer","index":0,"address":"::1","port":3302,"addressType":6,"flags":1,"seq":2}`,
			"::1:3302:6:undefined:0", "tcp6", "[::1]:3302"},
		{`{"act":"queryServer","index":0,"address":"/srv/app/x.sock","port":-1,"addressType":-1,"backlog":0,"seq":2}`,
			"/srv/app/x.sock:-1:-1:undefined:0", "unix", "/srv/app/x.sock"},
		{`{"act":"queryServer","index":0,"address":"127.0.0.1","port":3303,"addressType":"udp4","fd":-1,"flags":0,"seq":2}`,
			"127.0.0.1:3303:udp4:-1:0", "udp4", "127.0.0.1:3303"},
	} {
		var q nodeIn
		if err := json.Unmarshal([]byte(c.in), &q); err != nil {
			t.Fatal(err)
		}
		network, address, err := q.listenAddr()
		if key := q.handleKey(); key != c.key || network != c.network || address != c.address || err != nil {
			t.Errorf("%s: key %q, %s %q, %v", c.in, key, network, address, err)
		}
	}
	var q nodeIn
	json.Unmarshal([]byte(`{"act":"queryServer","index":0,"address":null,"port":0,"addressType":4,"fd":5}`), &q)
	if _, _, err := q.listenAddr(); err == nil {
		t.Error("listen({fd}) accepted")
	}
}

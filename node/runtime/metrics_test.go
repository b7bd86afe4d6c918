package runtime_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"sluice/node/runtime"
)

// scrape fetches url and returns each sample line's value by its name and
// labels as written ("name{a=\"b\"}").
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape %s: %s: %s", url, resp.Status, b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape %s: bad line %q", url, line)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetricsConsumerLag: a group 60 records behind is reported by exactly
// one broker (its coordinator) with its lag in records and a growing lag
// in seconds; caught up, both are 0.
func TestMetricsConsumerLag(t *testing.T) {
	const topic, group = "lagged", "lag-g"
	c := startGroupCluster(t, 3, 3)
	adm := newAdmin(t, c)
	createTopic(t, adm, topic, 1, 3)
	waitLeaders(t, adm, topic, 1)
	produceN(t, c, topic, 100)
	ctx := testCtx(t, 30*time.Second)
	commit := func(at int64) {
		t.Helper()
		var o kadm.Offsets
		o.AddOffset(topic, 0, at, -1)
		if err := adm.CommitAllOffsets(ctx, group, o); err != nil {
			t.Fatalf("commit %d: %v", at, err)
		}
	}
	commit(40)

	var urls []string
	for id := int32(1); id <= 3; id++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		m, err := runtime.ServeMetrics(c.Broker(id), ln, runtime.MetricsOptions{LagPollInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Close)
		urls = append(urls, "http://"+m.Addr()+"/metrics")
	}
	labels := fmt.Sprintf(`{broker="%%d",group=%q,partition="0",topic=%q}`, group, topic)
	// lagOf scrapes every broker and returns the one reporting the group.
	lagOf := func() (broker int, m map[string]float64) {
		for i, u := range urls {
			s := scrape(t, u)
			if _, ok := s["sluice_consumergroup_lag_records"+fmt.Sprintf(labels, i+1)]; ok {
				if broker != 0 {
					t.Fatalf("brokers %d and %d both report group %s", broker, i+1, group)
				}
				broker, m = i+1, s
			}
		}
		return broker, m
	}
	var broker int
	var m map[string]float64
	waitFor(t, 15*time.Second, "the group's lag to be reported and seconds to grow", func() bool {
		broker, m = lagOf()
		return broker != 0 && m["sluice_consumergroup_lag_seconds"+fmt.Sprintf(labels, broker)] > 0.1
	})
	l := fmt.Sprintf(labels, broker)
	for name, want := range map[string]float64{"committed_offset": 40, "high_watermark": 100, "lag_records": 60} {
		if got := m["sluice_consumergroup_"+name+l]; got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	b := fmt.Sprintf(`{broker="%d"}`, broker)
	if m["sluice_broker_up"+b] != 1 || m["sluice_broker_partitions"+b] < 1 || m["sluice_broker_coordinated_groups"+b] < 1 ||
		m["sluice_broker_connections"+b] < 1 {
		t.Errorf("broker gauges: up %v partitions %v coordinated groups %v connections %v", m["sluice_broker_up"+b],
			m["sluice_broker_partitions"+b], m["sluice_broker_coordinated_groups"+b], m["sluice_broker_connections"+b])
	}
	leaders := 0.0
	for i, u := range urls {
		leaders += scrape(t, u)[fmt.Sprintf(`sluice_broker_is_controller{broker="%d"}`, i+1)]
	}
	if leaders != 1 {
		t.Errorf("%v brokers report being the controller, want 1", leaders)
	}

	commit(100)
	waitFor(t, 15*time.Second, "the caught-up group to lag 0", func() bool {
		broker, m = lagOf()
		l := fmt.Sprintf(labels, broker)
		return broker != 0 && m["sluice_consumergroup_committed_offset"+l] == 100
	})
	l = fmt.Sprintf(labels, broker)
	if m["sluice_consumergroup_lag_records"+l] != 0 || m["sluice_consumergroup_lag_seconds"+l] != 0 {
		t.Errorf("caught up: lag %v records, %v s; want 0, 0", m["sluice_consumergroup_lag_records"+l], m["sluice_consumergroup_lag_seconds"+l])
	}
}

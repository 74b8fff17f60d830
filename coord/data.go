package coord

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Pilot-Data key layout. Every key of one pilot data service carries the
// hash tag {pds-<uuid>}; with D = "bigdata:{pds-<uuid>}:":
//
//	D info            HASH  service record (created)
//	D pilot-data      SET   Pilot-Data ids (pd-<u>) of the service
//	D pd-<u>          HASH  Pilot-Data record (description, service_url, state)
//	D pd-<u>:units    SET   data units (du-<u>) held in the Pilot-Data
//	D du-<u>          HASH  data unit record (description, state, files, pilot_data, reason)
//
// Object names, the part of a URL after the host, are "bigdata:pds-<u>",
// "bigdata:pds-<u>:pd-<u>" and "bigdata:pds-<u>:du-<u>" (the original's
// shape, with the service in them so that a URL alone finds the keys).

// DataNamespace prefixes every Pilot-Data key and object name.
const DataNamespace = "bigdata:"

// Fields of Pilot-Data and data unit records besides FieldDescription,
// FieldState and FieldReason (why a data unit Failed).
const (
	FieldServiceURL = "service_url" // a Pilot-Data's location
	FieldFiles      = "files"       // a data unit's files: JSON [{name, size, sha256}]
	FieldPilotData  = "pilot_data"  // a data unit's Pilot-Data ids, in the order they got it: JSON list
	FieldCreated    = "created"     // when the record was made
)

// DataKeys names the keys of one pilot data service.
type DataKeys struct {
	service string // pds-<uuid>
	prefix  string
}

// DataServiceKeys returns the key names of pilot data service id.
func DataServiceKeys(serviceID string) DataKeys {
	return DataKeys{service: serviceID, prefix: DataNamespace + "{" + serviceID + "}:"}
}

func (k DataKeys) Service() string                 { return k.service }
func (k DataKeys) Info() string                    { return k.prefix + "info" }
func (k DataKeys) PilotDataSet() string            { return k.prefix + "pilot-data" }
func (k DataKeys) PilotData(pd string) string      { return k.prefix + pd }
func (k DataKeys) PilotDataUnits(pd string) string { return k.prefix + pd + ":units" }
func (k DataKeys) DataUnit(du string) string       { return k.prefix + du }

// DataObjectName is the name of a Pilot-Data service's object (obj "":
// the service itself) in URLs.
func DataObjectName(serviceID, obj string) string {
	if obj == "" {
		return DataNamespace + serviceID
	}
	return DataNamespace + serviceID + ":" + obj
}

// ParseDataObjectName splits a name made by DataObjectName.
func ParseDataObjectName(name string) (serviceID, obj string, err error) {
	rest, ok := strings.CutPrefix(name, DataNamespace)
	if !ok {
		return "", "", fmt.Errorf("%q does not start with %q", name, DataNamespace)
	}
	serviceID, obj, _ = strings.Cut(rest, ":")
	if !strings.HasPrefix(serviceID, "pds-") || len(serviceID) < 5 {
		return "", "", fmt.Errorf("%q does not name a pilot data service (pds-<uuid>)", name)
	}
	if obj != "" && !(strings.HasPrefix(obj, "pd-") || strings.HasPrefix(obj, "du-")) || strings.Contains(obj, ":") {
		return "", "", fmt.Errorf("%q names no Pilot-Data (pd-<uuid>) or data unit (du-<uuid>) after the service", name)
	}
	return serviceID, obj, nil
}

// CreateDataService writes the record of a pilot data service.
func (s *Store) CreateDataService(ctx context.Context, k DataKeys) error {
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, k.Info(), FieldCreated, Timestamp(time.Now()))
	s.expirePipe(ctx, pipe, k.Info())
	_, err := pipe.Exec(ctx)
	return err
}

// CreatePilotData writes a Pilot-Data record and adds it to its service.
func (s *Store) CreatePilotData(ctx context.Context, k DataKeys, id string, fields map[string]string) error {
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, k.PilotData(id), fields)
	pipe.SAdd(ctx, k.PilotDataSet(), id)
	s.expirePipe(ctx, pipe, k.PilotData(id), k.PilotDataSet(), k.Info())
	_, err := pipe.Exec(ctx)
	return err
}

// PilotDataIDs lists the Pilot-Data of a service.
func (s *Store) PilotDataIDs(ctx context.Context, k DataKeys) ([]string, error) {
	return s.rdb.SMembers(ctx, k.PilotDataSet()).Result()
}

// SetDataUnit writes fields of data unit du; with pd set, it also records
// that Pilot-Data pd holds it.
func (s *Store) SetDataUnit(ctx context.Context, k DataKeys, du, pd string, fields map[string]string) error {
	pipe := s.rdb.TxPipeline()
	s.writeDataUnit(ctx, pipe, k, du, pd, fields)
	_, err := pipe.Exec(ctx)
	return err
}

// writeDataUnit queues on pipe the writes of SetDataUnit.
func (s *Store) writeDataUnit(ctx context.Context, pipe redis.Pipeliner, k DataKeys, du, pd string, fields map[string]string) {
	pipe.HSet(ctx, k.DataUnit(du), fields)
	keys := []string{k.DataUnit(du)}
	if pd != "" {
		pipe.SAdd(ctx, k.PilotDataUnits(pd), du)
		keys = append(keys, k.PilotDataUnits(pd), k.PilotData(pd))
	}
	s.expirePipe(ctx, pipe, keys...)
}

// DataUnitIDs lists the data units held in Pilot-Data pd.
func (s *Store) DataUnitIDs(ctx context.Context, k DataKeys, pd string) ([]string, error) {
	return s.rdb.SMembers(ctx, k.PilotDataUnits(pd)).Result()
}

// DataRecord reads a Pilot-Data or data unit record; ErrNotFound if there
// is none.
func (s *Store) DataRecord(ctx context.Context, key string) (map[string]string, error) {
	m, err := s.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, ErrNotFound
	}
	return m, nil
}

// UpdateDataUnit changes data unit du's record with change, which gets
// the current record and returns the fields to write, as one optimistic
// transaction retried when another process changed the record meanwhile.
func (s *Store) UpdateDataUnit(ctx context.Context, k DataKeys, du, pd string, change func(map[string]string) (map[string]string, error)) error {
	key := k.DataUnit(du)
	for range 20 {
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			m, err := tx.HGetAll(ctx, key).Result()
			if err != nil {
				return err
			}
			if len(m) == 0 {
				return ErrNotFound
			}
			fields, err := change(m)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
				s.writeDataUnit(ctx, pipe, k, du, pd, fields)
				return nil
			})
			return err
		}, key)
		if !errors.Is(err, redis.TxFailedErr) {
			return err
		}
	}
	return fmt.Errorf("update data unit %s: the record kept changing under other writers", du)
}

// expirePipe gives keys the store's record TTL (none when it is 0: forever).
func (s *Store) expirePipe(ctx context.Context, pipe redis.Pipeliner, keys ...string) {
	if s.ttl <= 0 {
		return
	}
	for _, key := range keys {
		pipe.Expire(ctx, key, s.ttl)
	}
}

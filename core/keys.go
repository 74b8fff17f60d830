package core

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/coord/userstore"
	"github.com/bigjob-go/bigjob/vocab"
)

// EnvHome names the directory of the library's private files (the services'
// signing keys, the lasting local store); default ~/.bigjob.
const EnvHome = userstore.EnvHome

// Signing keys. A Service makes a random key (coord.Key), signs every unit
// and pilot description it writes with it, and hands it to its agents
// through the submission channel; agents run nothing without a valid
// signature. The key never goes to the store. So that another process of the
// same user can reconnect to the service and submit, the key is kept in
// $BIGJOB_HOME/keys/<service id>.key (mode 0600, directory 0700); Cancel
// removes it.

// keyPath is where the key of a service is kept.
func keyPath(serviceID string) (string, error) {
	home, err := userstore.Home()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, "keys", serviceID+".key"), nil
}

// saveKey writes a service's key, owner-only, through a temporary file.
func saveKey(serviceID string, k coord.Key) error {
	p, err := keyPath(serviceID)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("save the service key: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".key-*")
	if err != nil {
		return fmt.Errorf("save the service key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(k.String() + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("save the service key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save the service key: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("save the service key: %w", err)
	}
	return nil
}

// loadKey reads the key of a service kept by saveKey. It refuses a key file
// that others may read, as ssh does.
func loadKey(serviceID string) (coord.Key, error) {
	p, err := keyPath(serviceID)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("service %s: its signing key %s does not exist: units and pilots can be added only by the user and machine "+
			"that created the service, or where its key file was copied to (mode 0600): %w", serviceID, p, ErrNoKey)
	}
	if err != nil {
		return nil, fmt.Errorf("service %s: read its signing key: %w", serviceID, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("service %s: its signing key %s may be read by others (mode %04o); run chmod 600 %s: %w",
			serviceID, p, st.Mode().Perm(), p, ErrNoKey)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("service %s: read its signing key: %w", serviceID, err)
	}
	k, err := coord.ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("service %s: key file %s: %w", serviceID, p, err)
	}
	return k, nil
}

// removeKey deletes a service's key file, if any.
func removeKey(serviceID string) {
	if p, err := keyPath(serviceID); err == nil {
		os.Remove(p)
	}
}

// signingKey is the service's key: the one this process made, else the one
// kept on disk.
func (d *domain) signingKey() (coord.Key, error) {
	d.keyMu.Lock()
	defer d.keyMu.Unlock()
	if d.signKey == nil {
		k, err := loadKey(d.keys.Service())
		if err != nil {
			return nil, err
		}
		d.signKey = k
	}
	return d.signKey, nil
}

// newUnit encodes and signs a unit description for submission; ud has
// passed Validate (each submission path checks its descriptions first).
func (d *domain) newUnit(ud UnitDescription) (coord.NewUnit, error) {
	k, err := d.signingKey()
	if err != nil {
		return coord.NewUnit{}, err
	}
	ud, b, err := vocab.EncodeValidUnit(ud)
	if err != nil {
		return coord.NewUnit{}, err
	}
	id := newID("cu-")
	return coord.NewUnit{ID: id, Slots: ud.Slots(), Description: b, Sig: k.Sign(coord.SignUnit, id, b)}, nil
}

module github.com/dbsec/dbsec/plugin/frontend
